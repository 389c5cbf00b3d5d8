"""Online stores: a Feast adapter over small storage backends."""
