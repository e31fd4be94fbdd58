"""The one IAM policy engine: documents parsed and compiled once (`document`), matched (`matching`,
`conditions`, `principal_element`) and decided as AWS documents it (`evaluate`)."""
