"""api.js, the browser's client. Its run statuses and control actions are the engine's (engine/status.py): read from
`/api/catalog` when the server serves them, and the one fallback in api.js, used when it does not,
holds the same lists, so the two cannot drift apart."""

from nnplayground.engine.status import ACTIONS, ACTIVE, STATUSES, TERMINAL

ENGINE = {
    "all": list(STATUSES),
    "active": list(ACTIVE),
    "terminal": list(TERMINAL),
    "actions": {action: sorted(allowed) for action, allowed in ACTIONS.items()},
}

READ = """(v) => ({ all: v.all, active: v.active, terminal: v.terminal,
                  actions: Object.fromEntries(Object.entries(v.actions).map(([a, s]) => [a, [...s].sort()])) })"""


def test_playground_and_fallback_use_the_engine_vocabulary(open_page):
    p = open_page()
    assert p.js(f"() => ({READ})(window.playground.vocab)") == ENGINE
    fallback = p.js(
        f"""async () => {{ const {{ Vocabulary }} = await import('/app/api.js');
                          return ({READ})(new Vocabulary({{}})); }}"""
    )
    assert fallback == ENGINE
    # the rules the buttons follow: ■ only for a live run, +1 only for a paused one
    allows = p.js(
        """() => { const v = window.playground.vocab;
                   return [v.allows('stop', 'running'), v.allows('stop', 'completed'),
                           v.allows('step', 'paused'), v.allows('step', 'running'), v.isTerminal('interrupted')]; }"""
    )
    assert allows == [True, False, True, False, True]
    assert not p.errors


def test_a_final_close_is_not_retried(open_page):
    """A stream of a run that does not exist gets the server's 4404 close: the socket says it ended
    and does not reconnect (a dropped connection would be retried, see test_playground)."""
    p = open_page()
    out = p.js(
        """async () => { const { RunStream } = await import('/app/api.js');
            const msgs = [];
            let stream;
            const code = await new Promise((resolve) => {
              stream = new RunStream('no-such-run', { message: (m) => msgs.push(m), ended: resolve });
            });
            await new Promise((r) => setTimeout(r, 1500));  // a retry would have opened by now
            return { code, retry: stream.retry, closed: stream.closed, msgs: msgs.map((m) => m.type) }; }"""
    )
    assert out == {"code": 4404, "retry": 0, "closed": True, "msgs": ["error"]}
