pytest_plugins = ["tests.fixtures.cluster", "tests.fixtures.kafka", "tests.fixtures.pinot", "tests.fixtures.postgres",
                  "tests.fixtures.s3", "tests.fixtures.spark"]
