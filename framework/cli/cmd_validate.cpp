#include <boost/program_options.hpp>
#include <iostream>

#include <gosok/core/error.hpp>
#include <gosok/workload/workload.hpp>
#include "commands.hpp"

namespace po = boost::program_options;

namespace gosok {

void register_validate_command(CommandRegistry& commands, const WorkloadRegistry& workloads) {
  add_file_kind({"workload", "workload input (workload = \"<name>\")", [&workloads](const std::string& path) {
                   const WorkloadInfo& info = workloads.find(read_toml_string_key(path, "workload"));
                   resolve_input(workload_schema(info), path, {});
                 }});
  commands.add({"validate", "check an input, site or workflow file without running anything",
                [](const std::vector<std::string>& args, int&, char**) {
                  std::vector<std::string> files;
                  bool help = false;
                  po::options_description desc("gosok validate FILE...");
                  desc.add_options()("help,h", po::bool_switch(&help), "show this help")("file", po::value(&files),
                                                                                         "files to check");
                  po::positional_options_description pos;
                  pos.add("file", -1);
                  po::variables_map vm;
                  po::store(po::command_line_parser(args).options(desc).positional(pos).run(), vm);
                  po::notify(vm);
                  if (help || files.empty()) {
                    std::cout << "usage: gosok validate FILE...\nknown kinds of file:\n";
                    for (const auto& k : file_kinds()) std::cout << "  " << k.description << "\n";
                    return help ? 0 : 2;
                  }
                  for (const auto& file : files) {
                    const FileKind* kind = nullptr;
                    std::string keys;
                    for (const auto& k : file_kinds()) {
                      keys += (keys.empty() ? "" : ", ") + k.key;
                      if (!kind && file_has_top_level_key(file, k.key)) kind = &k;
                    }
                    if (!kind) {
                      throw InputError(file +
                                       ": cannot tell what kind of file this is; expected one of the "
                                       "top-level keys: " +
                                       keys);
                    }
                    kind->validate(file);
                    std::cout << file << ": ok (" << kind->description << ")\n";
                  }
                  return 0;
                }});
}

}  // namespace gosok
