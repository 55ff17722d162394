from ccmonitor.cli import main

main()
