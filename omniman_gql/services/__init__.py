"""Use cases: each public coroutine is one transaction and raises OmnimanError for expected failures."""
