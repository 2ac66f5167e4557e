"""`python -m mercato`: the `mercato` command (what `mercato up` starts its services with)."""

from mercato.launcher import main

raise SystemExit(main())
