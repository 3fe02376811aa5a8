#include <recmix/version.hpp>

#include <boost/archive/text_oarchive.hpp>

#include <iostream>
#include <sstream>

int main() {
    std::ostringstream out;
    {
        boost::archive::text_oarchive archive(out);
        const int value = 42;
        archive << value;
    }
    std::cout << "recmix " << recmix::version_string << " serialization: " << out.str().size()
              << " bytes\n";
    return 0;
}
