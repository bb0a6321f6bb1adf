"""Live updates: GraphQL subscriptions fed by domain events.

    feed (amqp_feed.py: the broker, one queue per process | table_feed.py: the
          domain_events table, polled)
      -> hub.py (per process: by business, deduplicated, bounded, limited per principal)
        -> live.py (one subscription's session: expiry, a fresh read per event)
          -> app/schema/resolvers/subscription.py (checks, the object as it stands)
            -> websocket.py (graphql-transport-ws) | view.py (graphql-sse)

Started and stopped with the app by app/wiring/live.py.
"""
