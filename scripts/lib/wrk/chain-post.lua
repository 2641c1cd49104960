-- The message chain's request: the sender's 62-byte text/plain POST.
-- Used by scripts/bench-chain.sh and scripts/bench-footprint.sh.
wrk.method = "POST"
wrk.body = "Message sent from 10.244.1.17 on Sat Nov 21 21:40:50 UTC 2026"
wrk.headers["Content-Type"] = "text/plain"
