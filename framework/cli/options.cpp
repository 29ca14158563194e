#include "options.hpp"

#include <gosok/core/error.hpp>

namespace po = boost::program_options;

namespace gosok::cli {

po::variables_map parse_options(const std::vector<std::string>& args, const po::options_description& desc,
                                const po::positional_options_description* positional) {
  const int style = po::command_line_style::default_style & ~po::command_line_style::allow_guessing;
  po::positional_options_description none;
  const auto& pos = positional ? *positional : none;
  po::parsed_options parsed = [&] {
    try {
      return po::command_line_parser(args).options(desc).style(style).positional(pos).run();
    } catch (const po::too_many_positional_options_error&) {
      // Name the words nothing takes (boost's message does not).
      const auto words = po::command_line_parser(args).options(desc).style(style).run();
      std::string stray;
      int seen = 0;
      for (const auto& o : words.options) {
        if (o.position_key < 0) continue;
        if (++seen > static_cast<int>(pos.max_total_count())) {
          stray += (stray.empty() ? "'" : ", '") + o.value.front() + "'";
        }
      }
      throw InputError("unexpected argument " + stray +
                       (stray.find('=') != std::string::npos ? " (an input value is given as --set key=value)" : ""));
    }
  }();
  po::variables_map vm;
  po::store(parsed, vm);
  po::notify(vm);
  return vm;
}

}  // namespace gosok::cli
