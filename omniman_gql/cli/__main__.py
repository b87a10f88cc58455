"""`python -m omniman_gql.cli`: the same as the `omniman` command."""

from . import main

raise SystemExit(main())
