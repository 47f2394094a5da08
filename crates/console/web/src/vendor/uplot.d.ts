// uPlot as the console loads it: the build copies the npm package's ES module to
// js/vendor/uplot.js beside the compiled code (no bundler, no import map, nothing inline for the
// content security policy to refuse); its types are the package's.
import uPlot from 'uplot';
export default uPlot;
