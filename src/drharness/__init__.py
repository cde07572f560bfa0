"""drharness: prove a two-region AWS deployment survives losing its primary region."""

__version__ = "0.1.0"

PRIMARY_REGION = "us-east-1"
SECONDARY_REGION = "us-west-2"
REGIONS = (PRIMARY_REGION, SECONDARY_REGION)
