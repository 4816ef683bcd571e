"""The run archive: its schema, the writer, the reader, resume."""
