"""The case view: a web service on the state database where leads respond to findings, designated
professionals review links and read the audit, and a child's chronology shows the whole picture.

Entry points: :func:`caseview.app.create_app` (the FastAPI application), :func:`caseview.accounts.add_user`.
It sits on top of the stages (like the CLI) and imports only their public functions.
"""
