"""Product images: uploaded by admins, re-encoded, stored in the database, served by size.

An upload (`routes`) is read as it streams in and bounded (`chassis.web.uploads`),
decoded by Pillow and re-encoded without its metadata into three WebP variants
(`processing`), stored with its product in one transaction that also puts the
picture on the product (`service`, `store`), and served publicly with immutable
caching (`routes`). Their URLs, and how a product's lists of pictures change, are
`links`; the demo catalog's pictures are drawn at its first start (`demo`).
"""
