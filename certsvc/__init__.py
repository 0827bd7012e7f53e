"""certsvc: the vaccination-certificate issuance backend of a municipal VRS (the application,
the issuance use case, the app/counter/public HTTP APIs)."""
