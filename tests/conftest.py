import os
import sys

# Tests import the repo's packages and the shared fixtures below.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

pytest_plugins = ["tests.fixtures_pg", "tests.fixtures_browser", "tests.fixtures_mqtt"]
