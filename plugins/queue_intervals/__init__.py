"""Traffic per interval per queue (offered, answered, abandoned, AHT) for staffing plans."""
