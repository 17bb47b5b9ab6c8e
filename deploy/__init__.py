"""Deployment files and the code that generates some of them (`python -m deploy.build`)."""
