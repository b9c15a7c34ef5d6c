"""Interface definitions. ``make proto`` generates ``proto.generated.monitoring_pb2`` and ``monitoring_pb2_grpc``
from ``monitoring.proto`` (never committed); this file makes ``proto`` a regular package of the repository."""
