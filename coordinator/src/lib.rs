//! The logic-only swarm coordinator: agent registry, durable task queue, leases, policy store, rollouts and the ops dashboard. Not built yet: see the swarm issue.
