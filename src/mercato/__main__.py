"""`python -m mercato`: the `mercato` command (what `mercato up` starts its services with)."""

from mercato.launcher.cli import main

raise SystemExit(main())
