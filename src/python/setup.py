"""The wheel holds a native library (libsparsekernels.so, x86-64 Linux): tag it as a platform wheel, not a pure one."""
from setuptools import setup
from setuptools.dist import Distribution


class BinaryDistribution(Distribution):
    def has_ext_modules(self):
        return True


setup(distclass=BinaryDistribution)
