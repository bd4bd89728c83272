"""floorsync central: orders, network inventory ledger, allocation, routing, REST API."""
