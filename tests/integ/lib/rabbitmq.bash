# Start and stop a private RabbitMQ node for a test (sourced after common.bash).
#
#   rmq_start [mgmt]   start a node on loopback ports of its own, data under $T/rmq; with
#                      `mgmt` the management plugin listens on 127.0.0.1:$RMQ_MGMT_PORT.
#                      Sets RMQ_PORT, RMQ_URL (amqp://guest:guest@127.0.0.1:port/%2F).
#   rmq_stop           stop the node (keeps its data: rmq_start again restarts the same node
#                      on the same ports, with durable queues and persistent messages kept)
#   rmq_ctl ARGS...    rabbitmqctl against the node
# The node, its epmd and its files go away when the test exits (cleanup trap).
RMQ_BIN=/usr/lib/rabbitmq/bin
[ -x "$RMQ_BIN/rabbitmq-server" ] || { echo "SKIP: no rabbitmq-server installed"; exit 77; }
$PY -c 'import pika' 2> /dev/null || { echo "SKIP: no python3-pika for $PY"; exit 77; }
RMQ_DIR=$T/rmq
RMQ_NODE="sl$$-$RANDOM@localhost"
RMQ_PORT=$(free_port)
RMQ_DIST_PORT=$(free_port)
RMQ_EPMD_PORT=$(free_port)
RMQ_MGMT_PORT=$(free_port)
RMQ_URL="amqp://guest:guest@127.0.0.1:$RMQ_PORT/%2F"
RMQ_PID=

rmq_env() {
  env HOME="$RMQ_DIR" ERL_EPMD_PORT="$RMQ_EPMD_PORT" ERL_EPMD_ADDRESS=127.0.0.1 \
    RABBITMQ_NODENAME="$RMQ_NODE" RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 \
    RABBITMQ_NODE_PORT="$RMQ_PORT" RABBITMQ_DIST_PORT="$RMQ_DIST_PORT" \
    RABBITMQ_MNESIA_BASE="$RMQ_DIR/mnesia" RABBITMQ_LOG_BASE="$RMQ_DIR/log" \
    RABBITMQ_PID_FILE="$RMQ_DIR/node.pid" RABBITMQ_CONFIG_FILE="$RMQ_DIR/rabbitmq.conf" \
    RABBITMQ_ADVANCED_CONFIG_FILE="$RMQ_DIR/advanced.config" \
    RABBITMQ_ENABLED_PLUGINS_FILE="$RMQ_DIR/enabled_plugins" \
    RABBITMQ_PLUGINS_EXPAND_DIR="$RMQ_DIR/plugins-expand" \
    RABBITMQ_LOGS="$RMQ_DIR/log/node.log" RABBITMQ_CTL_ERL_ARGS="-proto_dist inet_tcp" "$@"
}

rmq_ctl() { rmq_env "$RMQ_BIN/rabbitmqctl" -n "$RMQ_NODE" "$@"; }

rmq_start() {
  mkdir -p "$RMQ_DIR/log"
  if [ ! -f "$RMQ_DIR/rabbitmq.conf" ]; then
    {
      echo "listeners.tcp.default = 127.0.0.1:$RMQ_PORT"
      echo "loopback_users = none"
      echo "log.console = false"
      echo "log.file.level = warning"
      echo "vm_memory_high_watermark.relative = 0.2"
      echo "disk_free_limit.absolute = 50MB"
      if [ "${1:-}" = mgmt ]; then
        echo "management.tcp.port = $RMQ_MGMT_PORT"
        echo "management.tcp.ip = 127.0.0.1"
      fi
    } > "$RMQ_DIR/rabbitmq.conf"
    echo "[]." > "$RMQ_DIR/advanced.config"
    if [ "${1:-}" = mgmt ]; then
      echo "[rabbitmq_management]." > "$RMQ_DIR/enabled_plugins"
    else
      echo "[]." > "$RMQ_DIR/enabled_plugins"
    fi
  fi
  # a restart right after a stop can find the node's name still registered in epmd (the old
  # VM's connection not yet closed on a loaded machine): the new VM then exits at once; such
  # an early exit is retried, up to 5 starts
  local attempt i port up
  for attempt in 1 2 3 4 5; do
    rmq_env "$RMQ_BIN/rabbitmq-server" > "$RMQ_DIR/log/server.out" 2>&1 &
    RMQ_PID=$!
    PIDS+=($RMQ_PID)
    # the AMQP listener opens last in the boot: polling it is faster than rabbitmqctl
    i=0
    up=1
    for port in "$RMQ_PORT" $([ "${1:-}" = mgmt ] && echo "$RMQ_MGMT_PORT"); do
      while ! $PY -c "import socket,sys; s=socket.socket(); s.settimeout(0.2); sys.exit(s.connect_ex(('127.0.0.1',$port)))" 2>/dev/null; do
        i=$((i+1))
        if ! kill -0 "$RMQ_PID" 2>/dev/null; then
          up=0
          break 2
        fi
        if [ $i -gt 600 ]; then
          tail -n 30 "$RMQ_DIR/log/server.out" >&2 || true
          fail "rabbitmq did not start within 60 s"
        fi
        sleep 0.1
      done
    done
    [ $up = 1 ] && return 0
    echo "rabbitmq exited while starting (attempt $attempt); retrying" >&2
    tail -n 5 "$RMQ_DIR/log/server.out" >&2 || true
    sleep 1
  done
  for f in "$RMQ_DIR/log/server.out" "$RMQ_DIR"/log/*.log; do tail -n 30 "$f" >&2 || true; done
  fail "rabbitmq did not start"
}

# the node's Erlang VM (the pid file is written once it runs)
rmq_beam_pid() { cat "$RMQ_DIR/node.pid" 2>/dev/null || true; }

rmq_stop() {
  [ -n "$RMQ_PID" ] || return 0
  local beam i=0
  beam=$(rmq_beam_pid)
  # SIGTERM makes the VM stop RabbitMQ gracefully (persistent messages are kept)
  if [ -n "$beam" ]; then kill -TERM "$beam" 2>/dev/null || true; else kill "$RMQ_PID" 2>/dev/null || true; fi
  while kill -0 "$RMQ_PID" 2>/dev/null || { [ -n "$beam" ] && kill -0 "$beam" 2>/dev/null; }; do
    i=$((i+1))
    if [ $i -ge 300 ]; then
      kill -9 "$RMQ_PID" $beam 2>/dev/null || true
      break
    fi
    sleep 0.1
  done
  wait "$RMQ_PID" 2>/dev/null || true
  rm -f "$RMQ_DIR/node.pid"
  RMQ_PID=
}

rmq_cleanup() {
  [ -z "${KEEP_LOG:-}" ] || cp "$T"/log.txt "$KEEP_LOG" 2>/dev/null || true
  rmq_stop
  local beam
  beam=$(rmq_beam_pid)
  [ -z "$beam" ] || kill -9 "$beam" 2>/dev/null || true
  ERL_EPMD_PORT=$RMQ_EPMD_PORT epmd -port "$RMQ_EPMD_PORT" -kill > /dev/null 2>&1 || true
}
CLEANUPS+=(rmq_cleanup)
