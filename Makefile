# Two commands on a fresh machine:  `make run` (train the default preset) and `make test`.
VENV    ?= .venv
PYTHON  ?= python3
PY      := $(VENV)/bin/python
GANKIT  := $(VENV)/bin/gankit
EPOCHS  ?=
BUDGET  ?= 10m
OUT     ?= runs

.PHONY: setup data run test test-slow bench bench-peers bench-tf gpu-check clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -r requirements.txt
	# torch-fidelity's Inception extractor (`evaluate --inception`) without its torchvision dependency
	$(PY) -m pip install -q --no-deps torch-fidelity==0.3.0
	$(PY) -m pip install -q --no-deps -e .
	touch $@

# Fashion-MNIST from Debian where apt works; elsewhere gankit downloads it on first use.
data:
	@if [ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then \
	  echo "Fashion-MNIST: /usr/share/datasets/fashion-mnist"; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist) \
	  || echo "apt-get failed: gankit will download Fashion-MNIST on first use"; \
	else echo "no root apt-get: gankit will download Fashion-MNIST into its cache on first use"; fi

# the wall-clock budget ends training (EPOCHS=N trains N epochs instead)
run: setup data
	$(GANKIT) train $(if $(EPOCHS),--epochs $(EPOCHS),--budget $(BUDGET) --epochs 1000) --out $(OUT)

# the layers contract (pyproject.toml, import-linter) first: an upward import fails the build;
# the PostgreSQL study tests run where .ci/postgres.sh can start Debian's server (root), else skip
test: setup data
	$(VENV)/bin/lint-imports
	GANKIT_TEST_POSTGRES="$${GANKIT_TEST_POSTGRES:-$$(.ci/postgres.sh 2>/dev/null || true)}" $(PY) -m pytest -q

test-slow: setup data
	$(PY) -m pip install -q -r bench/requirements-peers.txt
	$(PY) -m pytest -q -m slow
	HYPOTHESIS_PROFILE=thorough $(PY) -m pytest -q tests -k fuzz

bench: setup data
	$(PY) bench/throughput.py

# gankit's default beside a diffusers DDPM and PyTorch's examples DCGAN at equal minutes (about
# two hours; `python bench/peers.py --quick` for a smoke run)
bench-peers: setup data
	$(PY) -m pip install -q -r bench/requirements-peers.txt
	$(PY) bench/peers.py

# every CUDA path (device choice, bf16, fp16 + scaler, compile, cuDNN, torchrun/NCCL, 64 px) in one
# table; without a GPU, its CPU parts, naming what it skipped
gpu-check: setup
	$(PY) bench/gpu_check.py

# TensorFlow's DCGAN tutorial step vs gankit's tf-dcgan, side by side (TensorFlow CPU in .venv-tf)
.venv-tf/.installed:
	$(PYTHON) -m venv .venv-tf
	.venv-tf/bin/pip install -q tensorflow-cpu==2.21.0
	touch $@

bench-tf: setup data .venv-tf/.installed
	$(PY) bench/tf_compare.py

clean:
	rm -rf $(VENV) .venv-tf runs studies .pytest_cache .hypothesis test-artifacts
