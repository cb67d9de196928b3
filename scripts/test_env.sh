# The environment of every test run (sourced by scripts/test.sh and scripts/test_fast.sh).
export RASA_TELEMETRY_ENABLED=false TF_CPP_MIN_LOG_LEVEL=3 SQLALCHEMY_SILENCE_UBER_WARNING=1
# Bytecode and pytest's rewritten test modules are cached in __pycache__ (ignored by git): with
# PYTHONDONTWRITEBYTECODE set, as on these machines, every worker, gateway and CLI run compiled
# the sources again (~7 s of each pytest collection).
unset PYTHONDONTWRITEBYTECODE
