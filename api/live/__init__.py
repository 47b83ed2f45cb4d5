"""Live sockets: websocket sessions, the hub that fans events out, replay, feed, edge."""
