AssembleTool.main()
