from drharness.cli import main

raise SystemExit(main())
