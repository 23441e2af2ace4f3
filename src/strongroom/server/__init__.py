"""The token service (issue 13): keys in their own process, reached over p11-kit's RPC
protocol. ``wire`` frames; the message codec, the call table and the service itself follow
(PLAN.md)."""
