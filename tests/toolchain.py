"""The compilers the tests build their small driver programs with (None where absent)."""

import shutil

CC = shutil.which("cc") or shutil.which("gcc")
CXX = shutil.which("g++") or shutil.which("c++")
