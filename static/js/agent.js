Callboard.live({ resync: () => Callboard.api("/api/agents/board"), onEvent: (e) => console.log(e) });
