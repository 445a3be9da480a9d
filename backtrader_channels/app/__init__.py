"""The application: command line, commands, demo, run report, plot, run recorder."""
