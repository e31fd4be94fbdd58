"""IAM and STS: principals, users, roles, policies, access keys, temporary credentials, and the one policy
engine every service asks "may this principal do this action on this resource?" before it acts."""
