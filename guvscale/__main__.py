from guvscale.cli import main

raise SystemExit(main())
