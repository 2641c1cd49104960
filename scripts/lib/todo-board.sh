# shellcheck shell=bash
# The to-do board the benchmarks load through todo-backend's GraphQL API
# (scripts/bench-todo.sh, scripts/bench-footprint.sh): lists named
# "list N", each with items "item N.I". Needs curl.
#
#   todo_add_list BASE N ITEMS   create "list N" holding ITEMS items on the
#                                backend at BASE (http://127.0.0.1:PORT)

todo_add_list() {
  local base=$1 n=$2 items=$3 id batch
  id=$(echo "{\"query\":\"mutation{ createList(name:\\\"list $n\\\"){ id } }\"}" \
    | curl -fsS "$base/graphql" -H 'Content-Type: application/json' --data-binary @- \
    | sed -n 's/.*"id":"\([0-9]*\)".*/\1/p')
  [ -n "$id" ] || { echo "todo_add_list: createList gave no id" >&2; return 1; }
  # One batched POST (a JSON array of requests) for all the list's items.
  batch=$(for i in $(seq 1 "$items"); do
    printf '{"query":"mutation($i:createItemInput){ createItem(input:$i){ id } }","variables":{"i":{"name":"item %s.%s","listId":"%s"}}}\n' "$n" "$i" "$id"
  done | paste -sd, -)
  echo "[$batch]" | curl -fsS "$base/graphql" -H 'Content-Type: application/json' --data-binary @- >/dev/null
}
