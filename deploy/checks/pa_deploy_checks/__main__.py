from pa_deploy_checks.cli import main

raise SystemExit(main())
