"""Pure business rules: no database, no I/O, no clock except the `now` they are given."""
