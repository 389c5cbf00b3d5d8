pytest_plugins = ["tests.fixtures.cluster", "tests.fixtures.kafka", "tests.fixtures.pinot", "tests.fixtures.postgres",
                  "tests.fixtures.spark"]
