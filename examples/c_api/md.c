/* NVE molecular dynamics with a deepkit model through the C API (deepkit_c.h).
 *
 *   md MODEL XYZ [steps=1000] [dt_fs=1.0] [T0_K=300] [print_every=10] [seed=1]
 *
 * XYZ: a (extended) xyz file; a Lattice="ax ay az bx by bz cx cy cz" entry on its comment
 * line makes the system periodic. Velocity Verlet; velocities start from a Maxwell-Boltzmann
 * distribution at T0 without centre-of-mass motion. Prints step, time, potential, kinetic
 * and total energy (eV) and temperature (K). Units: Angstrom, fs, amu, eV. */
#include <deepkit_c.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KB_EV 8.617333262e-5   /* Boltzmann constant, eV/K */
#define MVV_TO_EV 103.6426965  /* 1 amu (Angstrom/fs)^2 in eV */

typedef struct {
  int natoms, periodic;
  double box[9];
  double *coord, *mass;
  int* atype;
} System;

static double atomic_mass(const char* symbol) {
  static const struct { const char* symbol; double mass; } table[] = {
      {"H", 1.008},   {"He", 4.0026}, {"Li", 6.94},    {"C", 12.011},   {"N", 14.007},
      {"O", 15.999},  {"F", 18.998},  {"Na", 22.990},  {"Mg", 24.305},  {"Al", 26.982},
      {"Si", 28.085}, {"P", 30.974},  {"S", 32.06},    {"Cl", 35.45},   {"K", 39.098},
      {"Ca", 40.078}, {"Ti", 47.867}, {"Fe", 55.845},  {"Ni", 58.693},  {"Cu", 63.546},
      {"Zn", 65.38},  {"Ag", 107.87}, {"Pt", 195.08},  {"Au", 196.97},  {"Pb", 207.2}};
  for (size_t k = 0; k < sizeof table / sizeof table[0]; ++k) {
    if (strcmp(table[k].symbol, symbol) == 0) return table[k].mass;
  }
  return 0.0;
}

/* Returns 0, or prints what is wrong and returns 1. */
static int read_xyz(const char* path, const dk_model* model, System* sys) {
  FILE* f = fopen(path, "r");
  char line[4096];
  if (!f) {
    fprintf(stderr, "md: cannot open %s\n", path);
    return 1;
  }
  if (!fgets(line, sizeof line, f) || sscanf(line, "%d", &sys->natoms) != 1 || sys->natoms <= 0) {
    fprintf(stderr, "md: %s: line 1 must hold the number of atoms\n", path);
    fclose(f);
    return 1;
  }
  if (!fgets(line, sizeof line, f)) line[0] = '\0';
  const char* lattice = strstr(line, "Lattice=\"");
  sys->periodic = lattice != NULL;
  if (lattice) {
    double* b = sys->box;
    if (sscanf(lattice + 9, "%lf %lf %lf %lf %lf %lf %lf %lf %lf", b, b + 1, b + 2, b + 3, b + 4,
               b + 5, b + 6, b + 7, b + 8) != 9) {
      fprintf(stderr, "md: %s: Lattice= needs nine numbers\n", path);
      fclose(f);
      return 1;
    }
  }
  sys->coord = malloc(sizeof(double) * 3 * sys->natoms);
  sys->mass = malloc(sizeof(double) * sys->natoms);
  sys->atype = malloc(sizeof(int) * sys->natoms);
  for (int i = 0; i < sys->natoms; ++i) {
    char symbol[16];
    double* r = sys->coord + 3 * i;
    if (!fgets(line, sizeof line, f) ||
        sscanf(line, "%15s %lf %lf %lf", symbol, r, r + 1, r + 2) != 4) {
      fprintf(stderr, "md: %s: line %d must be 'symbol x y z'\n", path, i + 3);
      fclose(f);
      return 1;
    }
    sys->atype[i] = dk_type_index(model, symbol);
    sys->mass[i] = atomic_mass(symbol);
    if (sys->atype[i] < 0 || sys->mass[i] <= 0) {
      fprintf(stderr, "md: %s: atom %d is %s, which the model (%s) or the mass table lacks\n",
              path, i, symbol, dk_type_map(model));
      fclose(f);
      return 1;
    }
  }
  fclose(f);
  return 0;
}

static double uniform(uint64_t* state) { /* xorshift64*, (0, 1] */
  *state ^= *state >> 12;
  *state ^= *state << 25;
  *state ^= *state >> 27;
  return ((*state * 2685821657736338717ULL) >> 11) * (1.0 / 9007199254740992.0) + 1e-300;
}

static void maxwell_boltzmann(const System* sys, double temperature, uint64_t seed, double* vel) {
  uint64_t state = seed * 0x9E3779B97F4A7C15ULL + 1;
  double momentum[3] = {0, 0, 0}, total_mass = 0;
  for (int i = 0; i < sys->natoms; ++i) {
    const double sigma = sqrt(KB_EV * temperature / (sys->mass[i] * MVV_TO_EV));
    for (int k = 0; k < 3; ++k) {
      const double u1 = uniform(&state), u2 = uniform(&state);
      vel[3 * i + k] = sigma * sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
      momentum[k] += sys->mass[i] * vel[3 * i + k];
    }
    total_mass += sys->mass[i];
  }
  for (int i = 0; i < sys->natoms; ++i) {
    for (int k = 0; k < 3; ++k) vel[3 * i + k] -= momentum[k] / total_mass;
  }
}

static double kinetic_energy(const System* sys, const double* vel) {
  double ke = 0;
  for (int i = 0; i < sys->natoms; ++i) {
    const double* v = vel + 3 * i;
    ke += 0.5 * sys->mass[i] * (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
  }
  return ke * MVV_TO_EV;
}

static int forces(const dk_model* model, const System* sys, double* energy, double* force) {
  double virial[9];
  const int status = dk_compute(model, 1, sys->natoms, sys->coord, sys->atype,
                                sys->periodic ? sys->box : NULL, NULL, NULL, energy, force,
                                virial, NULL, NULL);
  if (status != DK_OK) fprintf(stderr, "md: %s\n", dk_last_error());
  return status;
}

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s MODEL XYZ [steps=1000] [dt_fs=1.0] [T0_K=300] [print_every=10] [seed=1]\n", argv[0]);
    return 2;
  }
  const int steps = argc > 3 ? atoi(argv[3]) : 1000;
  const double dt = argc > 4 ? atof(argv[4]) : 1.0;
  const double t0 = argc > 5 ? atof(argv[5]) : 300.0;
  const int every = argc > 6 && atoi(argv[6]) > 0 ? atoi(argv[6]) : 10;
  const uint64_t seed = argc > 7 ? strtoull(argv[7], NULL, 10) : 1;

  dk_model* model = dk_load(argv[1], 0, 0);
  if (!model) {
    fprintf(stderr, "md: %s\n", dk_last_error());
    return 1;
  }
  System sys = {0};
  if (read_xyz(argv[2], model, &sys) != 0) return 1;
  printf("# model %s (deepkit %s, types %s, rcut %.2f A%s), %d atoms, %s\n", argv[1],
         dk_model_version(model), dk_type_map(model), dk_rcut(model),
         dk_is_compressed(model) ? ", compressed" : "", sys.natoms,
         sys.periodic ? "periodic" : "non-periodic");
  printf("# %6s %10s %18s %14s %18s %10s\n", "step", "time_fs", "potential_eV", "kinetic_eV",
         "total_eV", "T_K");

  const int n3 = 3 * sys.natoms;
  double* vel = malloc(sizeof(double) * n3);
  double* force = malloc(sizeof(double) * n3);
  double potential;
  maxwell_boltzmann(&sys, t0, seed, vel);
  if (forces(model, &sys, &potential, force) != DK_OK) return 1;
  const int dof = sys.natoms > 1 ? 3 * sys.natoms - 3 : 3;
  for (int step = 0; step <= steps; ++step) {
    if (step % every == 0 || step == steps) {
      const double ke = kinetic_energy(&sys, vel);
      printf("%8d %10.2f %18.10f %14.8f %18.10f %10.2f\n", step, step * dt, potential, ke,
             potential + ke, 2.0 * ke / (dof * KB_EV));
      fflush(stdout);
    }
    if (step == steps) break;
    for (int i = 0; i < sys.natoms; ++i) { /* half kick, drift */
      const double a = dt / (2.0 * sys.mass[i] * MVV_TO_EV);
      for (int k = 0; k < 3; ++k) {
        vel[3 * i + k] += a * force[3 * i + k];
        sys.coord[3 * i + k] += dt * vel[3 * i + k];
      }
    }
    if (forces(model, &sys, &potential, force) != DK_OK) return 1;
    for (int i = 0; i < sys.natoms; ++i) { /* half kick */
      const double a = dt / (2.0 * sys.mass[i] * MVV_TO_EV);
      for (int k = 0; k < 3; ++k) vel[3 * i + k] += a * force[3 * i + k];
    }
  }
  free(vel);
  free(force);
  free(sys.coord);
  free(sys.mass);
  free(sys.atype);
  dk_free(model);
  return 0;
}
