//! The inference service the coordinator calls for decomposition, escalation and cloud review. Not built yet: see the swarm and handshake issues.
