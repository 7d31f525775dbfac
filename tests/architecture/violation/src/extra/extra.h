// Fixture: a folder the table does not list.
