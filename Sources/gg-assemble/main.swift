import GGAssemble

AssembleTool.main()
