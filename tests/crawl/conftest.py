from tests.replay import online  # noqa: F401 - a fixture
