"""Control-plane domain: functions, versions, aliases, configurations, validation, states."""
