extension StatsHTMLRenderer {
    /// The page's whole style sheet, inline so the page needs nothing else.
    static let styleSheet = """
        :root { color-scheme: light; --fg: #1f2328; --muted: #656d76; --line: #d0d7de; --head: #f6f8fa; }
        * { box-sizing: border-box; }
        body { margin: 0; padding: 24px 32px; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif;
               color: var(--fg); background: #fff; }
        h1 { font-size: 20px; margin: 0 0 4px; }
        h2 { font-size: 16px; margin: 28px 0 8px; }
        .meta, .muted { color: var(--muted); }
        .cards { display: flex; flex-wrap: wrap; gap: 12px; margin-top: 16px; }
        .card { border: 1px solid var(--line); border-radius: 6px; padding: 8px 14px; min-width: 140px; }
        .card .value { font-size: 20px; font-weight: 600; font-variant-numeric: tabular-nums; }
        .card .label { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
        table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
        th, td { border-bottom: 1px solid var(--line); padding: 6px 10px; text-align: left; vertical-align: top; }
        th { background: var(--head); font-weight: 600; font-size: 12px; white-space: nowrap; }
        td.num, th.num { text-align: right; }
        tr.chosen td { background: #ddf4ff; }
        code { font: 12px ui-monospace, SFMono-Regular, Menlo, monospace; background: var(--head); padding: 1px 4px;
               border-radius: 4px; overflow-wrap: anywhere; }
        table.narrow { width: auto; min-width: 360px; }
        .badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-weight: 600; font-size: 12px; }
        .state-up { background: #dafbe1; color: #116329; }
        .state-down { background: #ffebe9; color: #a40e26; }
        .state-draining { background: #fff8c5; color: #7d4e00; }
        .state-other { background: #eaeef2; color: #424a53; }
        .ok { color: #116329; } .fail { color: #a40e26; }
        form { display: flex; gap: 8px; margin: 8px 0 12px; }
        input[type=text] { flex: 0 1 420px; padding: 5px 8px; border: 1px solid var(--line); border-radius: 6px;
                           font: inherit; }
        button { padding: 5px 14px; border: 1px solid var(--line); border-radius: 6px; background: var(--head);
                 font: inherit; cursor: pointer; }
        .answer { border-left: 4px solid #0969da; padding: 4px 12px; margin-bottom: 10px; }
        footer { margin-top: 32px; color: var(--muted); font-size: 12px; }
        a { color: #0969da; }
        """
}
