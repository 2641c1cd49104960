-- The to-do frontend's homepage query, the request it repeats after every
-- change, as a GraphQL POST.
-- Used by scripts/bench-todo.sh and scripts/bench-footprint.sh.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"query":"query homePageQuery{ lists { id name position items{ id name position listId } } }"}'
