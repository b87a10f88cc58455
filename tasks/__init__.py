"""The dramatiq adapter: broker, actors, dispatcher, sweeper and the embedded worker. Importing it has no effects."""
