"""latpred: few-shot latency predictors for hardware-aware NAS (JAX)."""

import setuptools

# A set checked to work together on Python 3.11 / CPU (see README).
INSTALL_REQUIRES = [
    "jax==0.10.2",
    "jaxlib==0.10.2",
    "flax==0.12.8",
    "optax==0.2.8",
    "jraph==0.0.6.dev0",
    "orbax-checkpoint==0.12.8",
    "ml-collections==1.1.0",
    "absl-py==2.5.1",
    "numpy==2.4.6",
    "scipy==1.17.1",
    "networkx==3.6.1",
    "matplotlib==3.10.7",
]

setuptools.setup(
    name="latpred",
    version="0.1.0",
    description="Few-shot latency prediction for hardware-aware neural architecture search",
    packages=setuptools.find_packages(include=["latpred", "latpred.*"]),
    package_data={"latpred.data": ["SHA256SUMS"], "latpred.spaces": ["slot_costs.json"]},
    python_requires=">=3.10",
    install_requires=INSTALL_REQUIRES,
    extras_require={"test": ["pytest==9.0.3", "pytest-xdist==3.8.0"]},
)
