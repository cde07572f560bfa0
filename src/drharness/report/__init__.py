"""Reports: render drill results (JSON per DESIGN §6, Markdown for humans). Decides nothing."""
